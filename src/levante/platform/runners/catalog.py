"""The runner types Levante offers, with StackStorm's names and parameter schemas.

Parameter names, types and defaults follow StackStorm's runners so that packs written for
it, and the ``st2`` CLI that reads these schemas to type its ``k=v`` arguments, keep working.
"""

from __future__ import annotations

from typing import Any

from levante.platform.runners.base import RunnerType

_ANY = {"anyOf": [{"type": t} for t in
                  ("object", "string", "integer", "number", "boolean", "array", "null")]}


def _timeout(default: int) -> dict[str, Any]:
    return {"type": "integer", "default": default,
            "description": "Seconds the action may run before it is killed."}


_SUDO = {"type": "boolean", "default": False, "description": "Run the command with sudo."}
_SUDO_PASSWORD = {"type": "string", "default": None, "required": False, "secret": True,
                  "description": "Password for sudo when it asks for one."}
_KWARG_OP = {"type": "string", "default": "--",
             "description": 'Prefix of named arguments, e.g. "--" or "-".'}
_ENV = {"type": "object",
        "description": "Environment variables for the process (e.g. key1=val1,key2=val2)."}

_SHELL_OUTPUT = {
    "type": "object",
    "properties": {
        "stdout": {"type": ["string", "object", "array", "null"]},
        "stderr": {"type": "string"},
        "return_code": {"type": "integer"},
        "succeeded": {"type": "boolean"},
        "failed": {"type": "boolean"},
    },
}

LOCAL_SHELL_CMD = RunnerType(
    name="local-shell-cmd",
    description="Runs a shell command on the platform's host, as the platform's user.",
    enabled=True,
    runner_module="local_shell_command_runner",
    aliases=("run-local",),
    output_key="stdout",
    output_schema=_SHELL_OUTPUT,
    runner_parameters={
        "cmd": {"type": "string", "description": "The command line, run with bash -c."},
        "cwd": {"type": "string", "description": "Working folder of the command."},
        "env": _ENV,
        "kwarg_op": _KWARG_OP,
        "sudo": _SUDO,
        "sudo_password": _SUDO_PASSWORD,
        "timeout": _timeout(60),
    },
)

LOCAL_SHELL_SCRIPT = RunnerType(
    name="local-shell-script",
    description="Runs the action's script on the platform's host; parameters become its "
                "arguments (secret ones its environment, ST2_ACTION_SECRET_<NAME>), never "
                "shell text.",
    enabled=True,
    runner_module="local_shell_script_runner",
    aliases=("run-local-script",),
    output_key="stdout",
    output_schema=_SHELL_OUTPUT,
    runner_parameters={
        "cwd": {"type": "string", "description": "Working folder of the script."},
        "env": _ENV,
        "kwarg_op": _KWARG_OP,
        "sudo": _SUDO,
        "sudo_password": _SUDO_PASSWORD,
        "timeout": _timeout(60),
    },
)

PYTHON_SCRIPT = RunnerType(
    name="python-script",
    description="Runs the Action class of the pack's Python file in its own process.",
    enabled=True,
    runner_module="python_runner",
    aliases=("run-python",),
    output_key="result",
    output_schema={
        "type": "object",
        "properties": {
            "result": _ANY,
            "stdout": {"type": "string"},
            "stderr": {"type": "string"},
            "exit_code": {"type": "integer"},
        },
    },
    runner_parameters={
        "env": {"type": "object",
                "description": "Environment variables for the action's process."},
        "timeout": _timeout(600),
        "log_level": {"type": "string", "default": "DEBUG",
                      "enum": ["AUDIT", "CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"],
                      "description": "Lowest level of the action's self.logger."},
    },
)

HTTP_REQUEST = RunnerType(
    name="http-request",
    description="Sends one HTTP request and returns the response.",
    enabled=True,
    runner_module="http_runner",
    aliases=("http-runner",),
    output_key="body",
    output_schema={
        "status_code": {"type": "integer"},
        "body": _ANY,
        "parsed": {"type": "boolean"},
        "headers": {"type": "object"},
    },
    runner_parameters={
        "url": {"type": "string", "required": True, "description": "URL of the request."},
        "headers": {"type": "object", "description": "HTTP headers of the request."},
        "cookies": {"type": "object", "description": "Cookies sent with the request."},
        "username": {"type": "string", "description": "User name for basic authentication."},
        "password": {"type": "string", "secret": True,
                     "description": "Password for basic authentication."},
        "allow_redirects": {"type": "boolean", "default": False,
                            "description": "Follow redirects."},
        "verify_ssl_cert": {"type": "boolean", "default": True,
                            "description": "Verify the server's TLS certificate."},
        "http_proxy": {"type": "string", "description": "Proxy for http:// URLs."},
        "https_proxy": {"type": "string", "description": "Proxy for https:// URLs."},
    },
)

NOOP = RunnerType(
    name="noop",
    description="Does nothing and succeeds, whatever the parameters.",
    enabled=True,
    runner_module="noop_runner",
    runner_parameters={},
)

REMOTE_SHELL_CMD = RunnerType(
    name="remote-shell-cmd",
    description="Runs a shell command over SSH on one or several hosts.",
    enabled=True,
    runner_module="remote_command_runner",
    aliases=("run-remote",),
    output_schema={"type": "object", "description": "One shell result per host."},
    runner_parameters={
        "hosts": {"type": "string", "required": True,
                  "description": "Comma-separated hosts, each host or host:port."},
        "cmd": {"type": "string", "description": "The command line run on each host."},
        "cwd": {"type": "string", "default": "/tmp",
                "description": "Working folder of the command on the host."},
        # StackStorm also lists "dir" (where remote-shell-script copies its script) and
        # "kwarg_op" (how a script gets named arguments); a command has neither, so they
        # are not offered here rather than accepted and ignored.
        "env": {"type": "object",
                "description": "Environment variables for the command (e.g. "
                               "key1=val1,key2=val2); names are letters, digits and _."},
        "parallel": {"type": "boolean", "default": False,
                     "description": "Run on all the hosts at the same time; false runs "
                                    "them one after another, in the order given."},
        "username": {"type": "string", "required": False,
                     "description": "User name on the hosts."},
        "password": {"type": "string", "required": False, "secret": True,
                     "description": "Password on the hosts."},
        "private_key": {"type": "string", "required": False, "secret": True,
                        "description": "Private key material, or the path of a key file."},
        "passphrase": {"type": "string", "required": False, "secret": True,
                       "description": "Passphrase of the private key."},
        "port": {"type": "integer", "required": False,
                 "description": "SSH port when a host does not name one (22)."},
        "bastion_host": {"type": "string", "required": False,
                         "description": "Host the SSH connections go through."},
        "sudo": _SUDO,
        "sudo_password": _SUDO_PASSWORD,
        "timeout": _timeout(60),
    },
)

REMOTE_SHELL_SCRIPT = RunnerType(
    name="remote-shell-script",
    description="Copies the action's script to one or several hosts over SSH and runs it "
                "there; parameters become its arguments (secret ones its environment, "
                "ST2_ACTION_SECRET_<NAME>).",
    enabled=True,
    runner_module="remote_script_runner",
    aliases=("run-remote-script",),
    output_schema={"type": "object", "description": "One shell result per host."},
    runner_parameters={
        **{k: v for k, v in REMOTE_SHELL_CMD.runner_parameters.items() if k != "cmd"},
        "dir": {"type": "string", "default": "/tmp",
                "description": "Folder on the host the script is copied into (and "
                               "removed from after the run)."},
        "kwarg_op": _KWARG_OP,
    },
)

WORKFLOW = RunnerType(
    name="mistral-v2",
    description="Runs a Mistral v2 workflow on the Levante engine.",
    enabled=True,
    runner_module="mistral_v2",
    aliases=("levante-workflow",),
    output_schema={"output_path": [], "unmodeled": {"type": "boolean"}},
    runner_parameters={
        "context": {"type": "object", "default": {},
                    "description": "Additional workflow inputs."},
        "skip_notify": {"type": "array", "default": [],
                        "description": "Tasks to send no notification for."},
        "task": {"type": "string",
                 "description": "Task to reach, for a reverse workflow."},
        "workflow": {"type": "string",
                     "description": "Workflow to run when the entry point is a workbook "
                                    "of several."},
    },
)

ACTION_CHAIN = RunnerType(
    name="action-chain",
    description="Runs a chain of actions, one after another, as StackStorm's ActionChain.",
    enabled=True,
    runner_module="action_chain_runner",
    output_schema={"tasks": {"type": "array"}, "published": {"type": "object"}},
    runner_parameters={
        "skip_notify": {"type": "array", "default": [],
                        "description": "Nodes to send no notification for."},
        "display_published": {"type": "boolean", "default": True,
                              "description": "Show the variables the chain published in "
                                             "its result (`published`)."},
    },
)

# StackStorm's inquirer (core.ask); run by levante.platform.inquiries.runner.
INQUIRER = RunnerType(
    name="inquirer",
    description="Asks a person for input (an inquiry): the execution stays pending, and its "
                "workflow paused, until someone answers or the TTL runs out.",
    enabled=True,
    runner_module="inquirer_runner",
    output_schema={"schema": {"type": "object"}, "roles": {"type": "array"},
                   "users": {"type": "array"}, "route": {"type": "string"},
                   "ttl": {"type": "integer"}, "response": {"type": "object"}},
    runner_parameters={
        "schema": {
            "type": "object",
            "default": {
                "title": "response_data",
                "type": "object",
                "properties": {"continue": {
                    "type": "boolean",
                    "description": "Would you like to continue the workflow?"}},
                "required": ["continue"],
            },
            "description": "JSON schema the answer must match.",
        },
        "roles": {"type": "array", "default": [],
                  "description": "Roles allowed to answer (none: anyone). Levante has no "
                                 "RBAC: only the admin user and service keys hold a role."},
        "users": {"type": "array", "default": [],
                  "description": "Users allowed to answer (none: anyone)."},
        "route": {"type": "string", "default": "",
                  "description": "Free text for routing the question to the right people "
                                 "(e.g. a chat channel)."},
        "ttl": {"type": "integer", "default": 1440,
                "description": "Minutes to wait for an answer before the inquiry times "
                               "out (0: never)."},
    },
)

# core.inject_trigger's; run by levante.platform.webhooks.inject.
INJECT_TRIGGER = RunnerType(
    name="inject-trigger",
    description="Records an instance of a trigger (core.inject_trigger), as a POST to the "
                "generic webhook does, without a process of its own.",
    enabled=True,
    runner_module="inject_trigger_runner",
    runner_parameters={},
)

RUNNER_TYPES: tuple[RunnerType, ...] = (
    LOCAL_SHELL_CMD,
    LOCAL_SHELL_SCRIPT,
    PYTHON_SCRIPT,
    HTTP_REQUEST,
    NOOP,
    REMOTE_SHELL_CMD,
    REMOTE_SHELL_SCRIPT,
    WORKFLOW,
    ACTION_CHAIN,
    INQUIRER,
    INJECT_TRIGGER,
)
