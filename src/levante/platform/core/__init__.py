"""The platform's core: packs and their actions, parameters, executions, API keys and the
runner loop, with the store that holds their SQL. Feature packages build on it."""
