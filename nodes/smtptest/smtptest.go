// Package smtptest runs an SMTP server in the test's process, for tests of
// email.send: it takes messages as a submission server does (STARTTLS or
// TLS, AUTH PLAIN and LOGIN), keeps them, and answers with the failures a
// test scripts.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Security is how the server encrypts.
type Security int

// The ways a server encrypts.
const (
	// Plain offers no TLS.
	Plain Security = iota
	// StartTLS offers STARTTLS and logins only after it.
	StartTLS
	// ImplicitTLS speaks TLS from the first byte.
	ImplicitTLS
)

// Options configure a server.
type Options struct {
	Security Security
	// Mechanisms are the logins offered: "PLAIN", "LOGIN". Empty offers
	// none, and mail is taken without a login.
	Mechanisms []string
	// Username and Password are the one login accepted.
	Username, Password string
}

// Message is a message the server took.
type Message struct {
	From string
	To   []string
	Data []byte
	// Login is the mechanism and username logged in with, or "".
	Login string
	// TLS is set when the message came over TLS.
	TLS bool
	// Helo is the name the client greeted with (EHLO).
	Helo string
}

// Server is a running SMTP server.
type Server struct {
	Host string
	Port int
	// CertPEM is the server's self-signed certificate for 127.0.0.1 and
	// localhost, to trust as a CA.
	CertPEM string

	opts     Options
	mu       sync.Mutex
	messages []Message
	failures map[string][]*smtp.SMTPError
}

// Start runs a server on a free loopback port until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, failures: map[string][]*smtp.SMTPError{}}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "mx.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = opts.Security == Plain
	var l net.Listener
	var err error
	if opts.Security != Plain {
		cert, certPEM := selfSigned(t)
		s.CertPEM = certPEM
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if opts.Security == ImplicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Fail makes the server answer the next command of a stage with code and
// text: stage is "EHLO", "MAIL", "DATA" or "RCPT <address>". Each call
// scripts one answer; later ones answer later attempts.
func (s *Server) Fail(stage string, code int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	class := code / 100
	s.failures[stage] = append(s.failures[stage], &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, 0, 0}, Message: text})
}

// Messages returns the messages taken so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

func (s *Server) failure(stage string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.failures[stage]
	if len(list) == 0 {
		return nil
	}
	s.failures[stage] = list[1:]
	return list[0]
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	if err := s.failure("EHLO"); err != nil {
		return nil, err
	}
	_, isTLS := c.TLSConnectionState()
	return &session{server: s, conn: c, msg: Message{TLS: isTLS}}, nil
}

type session struct {
	server *Server
	conn   *smtp.Conn
	msg    Message
	login  string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string { return s.server.opts.Mechanisms }

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		if username != s.server.opts.Username || password != s.server.opts.Password {
			return smtp.ErrAuthFailed
		}
		s.login = mech + " " + username
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error { return check(username, password) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if len(s.server.opts.Mechanisms) > 0 && s.login == "" {
		return smtp.ErrAuthRequired
	}
	if err := s.server.failure("MAIL"); err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.msg = Message{From: from, Login: s.login, TLS: isTLS, Helo: s.conn.Hostname()}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.server.failure("RCPT " + to); err != nil {
		return err
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.server.failure("DATA"); err != nil {
		return err
	}
	s.msg.Data = data
	s.server.mu.Lock()
	s.server.messages = append(s.server.messages, s.msg)
	s.server.mu.Unlock()
	return nil
}

func (s *session) Reset() { s.msg = Message{TLS: s.msg.TLS} }

func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl no longer
// has: it asks for the username, then the password.
type loginServer struct {
	check    func(username, password string) error
	username string
	step     int
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if len(response) > 0 { // The username as initial response.
			l.username = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.step++
		l.username = string(response)
		return []byte("Password:"), false, nil
	case 2:
		l.step++
		return nil, true, l.check(l.username, string(response))
	}
	return nil, false, errors.New("unexpected response")
}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("smtptest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("smtptest: key: %v", err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatalf("smtptest: key pair: %v", err)
	}
	return cert, string(certPEM)
}
