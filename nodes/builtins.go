package nodes

// RegisterBuiltins registers every node kind Hookflow ships with. Adding a
// kind is one file in this package and one line here.
func RegisterBuiltins(r *Registry) {
	r.MustRegister(Define(webhookSpec, buildWebhook))
	r.MustRegister(Define(manualSpec, buildManual))
	r.MustRegister(Define(transformSpec, buildTransform))
	r.MustRegister(Define(filterSpec, buildFilter))
	r.MustRegister(Define(ifSpec, buildIf))
	r.MustRegister(Define(switchSpec, buildSwitch))
	r.MustRegister(Define(foreachSpec, buildForeach))
	r.MustRegister(Define(delaySpec, buildDelay))
	r.MustRegister(Define(respondSpec, buildRespond))
}
