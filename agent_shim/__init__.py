"""agent_shim: runs CodeDeploy deployments like the agent does, on this host or on a fleet over SSH.

The host side (this package's modules other than `fleet`) needs only the Python standard library and
`appspec_tools`, so it can be shipped to hosts as a zipapp.
"""
