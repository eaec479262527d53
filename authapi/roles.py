"""What each role means for Django's admin flags. Used by user services and the admin."""

from authapi.models import Role, User

__all__ = ["apply_role"]


def apply_role(user: User, role: str) -> None:
    """Set role and the admin flags that follow from it (not saved).

    admin: full access to the tenant's admin (superuser within its own schema).
    staff: may enter the admin with the limited permissions of the "Tenant staff" group.
    customer: no admin access.
    """
    user.role = Role(role)
    user.is_staff = user.role in (Role.ADMIN, Role.STAFF)
    user.is_superuser = user.role == Role.ADMIN
