"""Keep the per-process caches and the sessions in step with saves made anywhere.

- A user saved or deleted: every process forgets its cached answer.
- A password set any way but the password-change route (the tenant admin, `changepassword`,
  a script): every session of that user ends; the route keeps the caller's own. Either way
  the user's API keys are deleted.
- A session saved or deleted (not created): every process forgets its cached answer.
- A user deactivated: every session of that user ends (reactivating does not revive them).
- An API key saved or deleted (its user's deletion included): every process forgets it.
"""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from audit.services import Event, record
from authapi import api_tokens, selectors, sessions
from authapi.models import ApiToken, Session, User


@receiver(pre_save, sender=User)
def _note_password_change(instance: User, update_fields: Any = None, **_: Any) -> None:
    # set_password() leaves the raw password in `_password` until the save; a hash upgraded at
    # login clears it first, so only a new password counts.
    instance._password_set = instance.pk is not None and instance._password is not None  # type: ignore[attr-defined]
    # What the audit trail compares with (not for a save that cannot change either, such as
    # a login's last_login: no extra query on that path).
    before = None
    if instance.pk is not None and (
        update_fields is None or {"role", "is_active"} & set(update_fields)
    ):
        before = User.objects.filter(pk=instance.pk).values("role", "is_active").first()
    instance._audit_before = before  # type: ignore[attr-defined]


@receiver(post_save, sender=User)
def _user_saved(instance: User, **_: Any) -> None:
    selectors.user_get_active.invalidate(user_id=instance.pk)
    if getattr(instance, "_password_set", False):
        instance._password_set = False  # type: ignore[attr-defined]
        keep = getattr(instance, "_keep_session_id", None)
        instance._keep_session_id = None  # type: ignore[attr-defined]
        record(
            Event.PASSWORD_CHANGED,
            user_id=instance.pk,
            username=instance.username,
            session_id=keep,
            detail={"by": "owner" if keep is not None else "other"},
        )
        sessions.sessions_end_for_password(user=instance, keep=keep)
        api_tokens.api_tokens_end_for_password(user=instance)
    before = getattr(instance, "_audit_before", None)
    instance._audit_before = None  # type: ignore[attr-defined]
    if before is not None and before["role"] != instance.role:
        record(
            Event.ROLE_CHANGED,
            user_id=instance.pk,
            username=instance.username,
            detail={"from": before["role"], "to": instance.role},
        )
    if before is not None and before["is_active"] and not instance.is_active:
        record(Event.USER_DEACTIVATED, user_id=instance.pk, username=instance.username)
    if not instance.is_active:  # one UPDATE that ends nothing once they are all ended
        sessions.sessions_end(
            sessions=Session.objects.filter(user=instance), reason=Session.EndReason.DEACTIVATED
        )


@receiver(post_delete, sender=User)
def _user_deleted(instance: User, **_: Any) -> None:
    selectors.user_get_active.invalidate(user_id=instance.pk)


@receiver(post_save, sender=Session)
def _session_saved(instance: Session, created: bool, **_: Any) -> None:
    if not created:  # nobody can have asked for a session that did not exist yet
        selectors.session_get_live.invalidate(sid=str(instance.pk))


@receiver(post_delete, sender=Session)
def _session_deleted(instance: Session, **_: Any) -> None:
    selectors.session_get_live.invalidate(sid=str(instance.pk))


@receiver(post_save, sender=ApiToken)
@receiver(post_delete, sender=ApiToken)
def _api_token_changed(instance: ApiToken, **_: Any) -> None:
    selectors.api_token_get_by_digest.invalidate(digest=instance.digest)


@receiver(user_logged_in)
def _session_login(user: User, **_: Any) -> None:
    # The admins' session logins; the JSON API records its own (authapi.sessions).
    record(Event.LOGIN_SUCCEEDED, user_id=user.pk, username=user.username, detail={"via": "admin"})


@receiver(user_login_failed)
def _session_login_failed(credentials: dict[str, Any], request: Any = None, **_: Any) -> None:
    if getattr(request, "login_throttled", None) is not None:
        return  # refused before any check: recorded as login_blocked
    record(
        Event.LOGIN_FAILED,
        username=str(credentials.get("username", "")),  # Django has masked the password
        detail={"via": "admin"},
    )
