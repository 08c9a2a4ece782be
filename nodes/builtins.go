package nodes

// RegisterBuiltins registers every node kind and credential type Hookflow
// ships with. Adding a kind is one file in this package and one line here.
func RegisterBuiltins(r *Registry) {
	for _, c := range builtinCredentialTypes {
		if err := r.RegisterCredentialType(c); err != nil {
			panic(err)
		}
	}
	r.MustRegister(Define(webhookSpec, buildWebhook))
	r.MustRegister(Define(manualSpec, buildManual))
	r.MustRegister(Define(callTriggerSpec, buildCallTrigger))
	r.MustRegister(Define(cronSpec, buildCron))
	r.MustRegister(Define(transformSpec, buildTransform))
	r.MustRegister(Define(filterSpec, buildFilter))
	r.MustRegister(Define(ifSpec, buildIf))
	r.MustRegister(Define(switchSpec, buildSwitch))
	r.MustRegister(Define(mergeSpec, buildMerge))
	r.MustRegister(Define(foreachSpec, buildForeach))
	r.MustRegister(Define(delaySpec, buildDelay))
	r.MustRegister(Define(codeSpec, buildCode))
	r.MustRegister(Define(waitCallbackSpec, buildWaitCallback))
	r.MustRegister(Define(callSpec, buildCall))
	r.MustRegister(Define(returnSpec, buildReturn))
	r.MustRegister(Define(respondSpec, buildRespond))
	r.MustRegister(Define(httpRequestSpec, buildHTTPRequest))
	r.MustRegister(Define(slackMessageSpec, buildSlackMessage))
	r.MustRegister(Define(discordMessageSpec, buildDiscordMessage))
	r.MustRegister(Define(telegramMessageSpec, buildTelegramMessage))
	r.MustRegister(Define(teamsMessageSpec, buildTeamsMessage))
	r.MustRegister(Define(emailSendSpec, buildEmailSend))
	r.MustRegister(Define(webhookSendSpec, buildWebhookSend))
	r.MustRegister(Define(dbWriteSpec, buildDBWrite))
	r.MustRegister(Define(dbQuerySpec, buildDBQuery))
	r.MustRegister(Define(llmChatSpec, buildLLMChat))
	r.MustRegister(Define(redisCommandSpec, buildRedisCommand))
	r.MustRegister(Define(redisTriggerSpec, buildRedisTrigger))
	r.MustRegister(Define(rabbitPublishSpec, buildRabbitPublish))
	r.MustRegister(Define(rabbitTriggerSpec, buildRabbitTrigger))
	r.MustRegister(Define(natsPublishSpec, buildNATSPublish))
	r.MustRegister(Define(natsTriggerSpec, buildNATSTrigger))
	r.MustRegister(Define(mqttPublishSpec, buildMQTTPublish))
	r.MustRegister(Define(mqttTriggerSpec, buildMQTTTrigger))
}
