"""Onboarding: a client and its first admin, made together. Above both `tenants` and `authapi`
(the only package that uses both), so that neither imports the other the wrong way."""
