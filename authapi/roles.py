"""What each role means for Django's admin flags. Used by user services and the admin."""

from django.db.models import Q

from authapi.models import Role, User

__all__ = ["admin_accounts", "apply_role", "is_tenant_admin"]


def is_tenant_admin(user: User) -> bool:
    """May act on anyone's account: the admin role, or a superuser whatever its role (e.g.
    made by `createsuperuser`, which sets no role)."""
    return bool(user.is_superuser or user.role == Role.ADMIN)


def admin_accounts(via: str = "") -> Q:
    """The accounts only an admin may act on, as a filter (`via`: the path to the user)."""
    return Q(**{f"{via}role": Role.ADMIN}) | Q(**{f"{via}is_superuser": True})


def apply_role(user: User, role: str) -> None:
    """Set role and the admin flags that follow from it (not saved).

    admin: full access to the tenant's admin (superuser within its own schema).
    staff: may enter the admin with the limited permissions of the "Tenant staff" group.
    customer: no admin access.
    """
    user.role = Role(role)
    user.is_staff = user.role in (Role.ADMIN, Role.STAFF)
    user.is_superuser = user.role == Role.ADMIN
