// Command bare is the load benchmark's yardstick: a fiber server whose
// webhook handler only reads the body and answers 202, as fast as fiber
// goes on this machine. bench/load.sh measures it beside hookflow.
package main

import (
	"flag"
	"log"

	"github.com/gofiber/fiber/v2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "address to listen on")
	flag.Parse()
	app := fiber.New(fiber.Config{DisableStartupMessage: true, BodyLimit: 10 << 20})
	app.All("/hooks/:key", func(c *fiber.Ctx) error {
		_ = c.Body()
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"run_id": "bare"})
	})
	log.Fatal(app.Listen(*addr))
}
