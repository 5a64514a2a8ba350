"""Exceptions raised by the core. Every message is meant to be shown to a user."""


class JacsError(Exception):
    """Base class for errors the user can act on."""


class KeyDecryptionError(JacsError):
    """The private key could not be decrypted (wrong password or damaged file)."""


class KeyFormatError(JacsError):
    """A key file is not in a format JACS writes."""


class PasswordPolicyError(JacsError):
    """A new password does not meet the JACS password rules."""


class DocumentError(JacsError):
    """A document cannot be parsed, built or signed."""


class IdentityError(JacsError):
    """An agent identity (config, keys, agent document) cannot be loaded or created."""
