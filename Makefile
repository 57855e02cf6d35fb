# The two commands a newcomer needs (see README.md).
.PHONY: run test

run:  ## install, then run the speaker on its built-in defaults
	scripts/bootstrap run
	.venv/bin/appliance run $(ARGS)

test:  ## install everything the tests need, then lint, type-check and test
	scripts/test
