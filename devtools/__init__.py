"""Development and test tools (a local broker, the simulated day); not part of the installed package."""
