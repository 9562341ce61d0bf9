"""A service user's password sign-in, as keystonemiddleware's ``authtoken`` filter reads it.

Two pipelines check Keystone tokens with keystonemiddleware: opsflow's API (whose access-key filter
signs in the same way) and the simulated cloud's Swift. Both name their service user with the same
options, written here once.
"""

from __future__ import annotations

import dataclasses

__all__ = ["ServiceUser", "authtoken_filter"]


@dataclasses.dataclass(frozen=True)
class ServiceUser:
    """The user a service validates tokens with, and where it signs in."""

    #: Keystone's identity endpoint, for example ``http://127.0.0.1:5000/v3``.
    auth_url: str
    username: str
    password: str
    project_name: str = "service"
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"

    def password_options(self) -> str:
        """The paste options of a password sign-in, one ``key = value`` line each."""
        return (f"auth_url = {self.auth_url}\nusername = {self.username}\npassword = {self.password}\n"
                f"project_name = {self.project_name}\nuser_domain_name = {self.user_domain_name}\n"
                f"project_domain_name = {self.project_domain_name}\n")


def authtoken_filter(user: ServiceUser, extra: str = "") -> str:
    """The ``[filter:authtoken]`` section validating tokens as ``user``, then the ``extra`` option lines.

    ``delay_auth_decision``: a request without a valid token goes on, marked, for the application
    (or the filter after authtoken) to refuse or serve -- the dashboard's sign-in page, Swift's
    tempurl and public containers need that.
    """
    return ("[filter:authtoken]\npaste.filter_factory = keystonemiddleware.auth_token:filter_factory\n"
            f"www_authenticate_uri = {user.auth_url}\nauth_type = password\n{user.password_options()}"
            f"{extra}delay_auth_decision = true\n")
