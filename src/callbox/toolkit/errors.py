"""The failures a toolkit user can act on. Each is printed as one ``Error: ...`` line and exit
code 1 (``cli.py``), never a traceback (that is what ``--debug`` is for)::

    ApiError            the server refused a request, or could not be reached (client.py)
    DeployError         a deploy, or a build it waits for, stopped; said before anything is
                        changed whenever the project alone shows the problem
    CredentialsError    no usable credentials or profile (credentials.py)
    RcError             the config file cannot be used (rcfile.py)
    ProjectError        the project folder cannot be served or deployed as it is (project.py)
      PackageJsonError    its package.json (packagejson.py)
    InitError           a project cannot be created (scaffolding.py)
    TemplateError       a template cannot be added (templating.py; its commands say it)

Each message says what was expected, what was found and what to do.
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, message: str, status: int = 0, code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.code = code  # Twilio's error code; 0 when the answer was not the API's

    @property
    def not_found(self) -> bool:
        """The API said the resource does not exist (not: some other server answered 404)."""
        return self.status == 404 and self.code == 20404

    @property
    def from_the_api(self) -> bool:
        return self.code != 0


class DeployError(Exception):
    """The deploy stopped; the message says where, why and what to do."""


class CredentialsError(ValueError):
    """No usable credentials or profile; the message says where they can come from."""


class RcError(ValueError):
    """The config file cannot be used; the message names the file, the fault and the fix."""


class ProjectError(ValueError):
    """The project folder cannot be served as it is; the message says what to change."""


class PackageJsonError(ProjectError):
    """package.json cannot be used as it is; the message says what to change."""


class InitError(ValueError):
    """The project cannot be created; the message says why and what to do."""


class TemplateError(ValueError):
    """The template cannot be created; the message says why and what to do."""


# What cli.py turns into one line (a TemplateError is said by the commands that add templates).
USER_ERRORS: tuple[type[Exception], ...] = (
    ApiError,
    DeployError,
    CredentialsError,
    RcError,
    ProjectError,
    InitError,
)
