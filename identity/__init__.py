"""identity: certificate login, sessions and staff roles (OIDC provider: ``identity.oidc``)."""

from identity.challenge import Challenge, issue_challenge, signed_message
from identity.login import AMR_MTLS, AMR_POP, CertificateLogin, NoClientCertificate
from identity.sessions import ACR_BY_LOA, SESSION_COOKIE, Principal, SessionStore
from identity.throttle import LoginThrottle, TooManyFailedLogins

__all__ = [
    "ACR_BY_LOA",
    "AMR_MTLS",
    "AMR_POP",
    "SESSION_COOKIE",
    "CertificateLogin",
    "Challenge",
    "LoginThrottle",
    "NoClientCertificate",
    "Principal",
    "SessionStore",
    "TooManyFailedLogins",
    "issue_challenge",
    "signed_message",
]
