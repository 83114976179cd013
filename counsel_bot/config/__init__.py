"""Settings from the environment, the deployment configuration and the packaged content."""
