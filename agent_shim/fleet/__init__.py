"""Fleet deployments over SSH: the controller side. Hosts run the one-host shim as a zipapp."""
