"""The FastAPI Users flow through a client that openapi-python-client generated from the
server's /openapi.json: register, login (form), me, patch, logout, superuser get/patch/delete,
forgot/reset password. Run by tests/clients.rs.

Usage: python_flow.py GENERATED_DIR BASE_URL OUTBOX_DIR ADMIN_EMAIL ADMIN_PASSWORD
"""

import pathlib
import re
import sys
import time

generated, base, outbox, admin_email, admin_password = sys.argv[1:6]
sys.path.insert(0, generated)

from client import AuthenticatedClient, Client  # noqa: E402
from client.api.auth import (  # noqa: E402
    auth_jwt_login_auth_jwt_login_post as login,
    auth_jwt_logout_auth_jwt_logout_post as logout,
    register_register_auth_register_post as register,
    reset_forgot_password_auth_forgot_password_post as forgot_password,
    reset_reset_password_auth_reset_password_post as reset_password,
)
from client.api.users import (  # noqa: E402
    users_current_user_users_me_get as me,
    users_delete_user_users_id_delete as delete_user,
    users_patch_current_user_users_me_patch as patch_me,
    users_patch_user_users_id_patch as patch_user,
    users_user_users_id_get as get_user,
)
from client.models import (  # noqa: E402
    BodyAuthJwtLoginAuthJwtLoginPost,
    BodyResetForgotPasswordAuthForgotPasswordPost,
    BodyResetResetPasswordAuthResetPasswordPost,
    UserCreate,
    UserRead,
    UserUpdate,
)

anonymous = Client(base_url=base, raise_on_unexpected_status=True)


def signed_in(email, password):
    answer = login.sync_detailed(
        client=anonymous,
        body=BodyAuthJwtLoginAuthJwtLoginPost(username=email, password=password),
    )
    assert answer.status_code == 200, answer
    assert answer.parsed.token_type == "bearer"
    return AuthenticatedClient(base_url=base, token=answer.parsed.access_token)


created = register.sync_detailed(
    client=anonymous, body=UserCreate(email="percival@camelot.bt", password="holy-grail")
)
assert created.status_code == 201, created
user = created.parsed
assert isinstance(user, UserRead) and user.email == "percival@camelot.bt", user
assert user.is_active and not user.is_superuser and not user.is_verified

again = register.sync_detailed(
    client=anonymous, body=UserCreate(email="Percival@camelot.bt", password="holy-grail")
)
assert again.status_code == 400 and again.parsed.detail == "REGISTER_USER_ALREADY_EXISTS", again

percival = signed_in("percival@camelot.bt", "holy-grail")
mine = me.sync(client=percival)
assert mine.id == user.id, mine
patched = patch_me.sync(client=percival, body=UserUpdate(password="new-grail-1"))
assert patched.id == user.id, patched
assert logout.sync_detailed(client=percival).status_code == 204
percival = signed_in("percival@camelot.bt", "new-grail-1")

admin = signed_in(admin_email, admin_password)
fetched = get_user.sync(id=user.id, client=admin)
assert fetched.email == "percival@camelot.bt", fetched
promoted = patch_user.sync(id=user.id, client=admin, body=UserUpdate(is_verified=True))
assert promoted.is_verified, promoted
refused = get_user.sync_detailed(id=user.id, client=percival)
assert refused.status_code == 403, refused

sent = forgot_password.sync_detailed(
    client=anonymous, body=BodyResetForgotPasswordAuthForgotPasswordPost(email="percival@camelot.bt")
)
assert sent.status_code == 202, sent
token = None
for _ in range(100):
    for message in pathlib.Path(outbox).glob("*.eml"):
        found = re.search(r"token=([A-Za-z0-9._-]+)", message.read_text())
        if found:
            token = found.group(1)
    if token:
        break
    time.sleep(0.1)
assert token, "no reset e-mail in the outbox"
reset = reset_password.sync_detailed(
    client=anonymous,
    body=BodyResetResetPasswordAuthResetPasswordPost(token=token, password="reset-grail-2"),
)
assert reset.status_code == 200, reset
percival = signed_in("percival@camelot.bt", "reset-grail-2")

deleted = delete_user.sync_detailed(id=user.id, client=admin)
assert deleted.status_code == 204, deleted
gone = get_user.sync_detailed(id=user.id, client=admin)
assert gone.status_code == 404, gone
print("flow ok")
