module github.com/bcgov/bcreg-events/services/credential-builder

go 1.26.0

require github.com/bcgov/bcreg-events/pkg v0.0.0

replace github.com/bcgov/bcreg-events/pkg => ../../pkg
