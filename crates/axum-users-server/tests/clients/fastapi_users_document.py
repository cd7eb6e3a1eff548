"""Prints the OpenAPI document of FastAPI Users 15.0.5 set up as our server is (the JWT bearer
and cookie backends, every router at its conventional prefix): what a FastAPI Users user
generates their client from. Run by tests/clients.rs."""

import uuid, json
from fastapi import FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, CookieTransport, JWTStrategy
from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from sqlalchemy.orm import DeclarativeBase
class Base(DeclarativeBase): pass
class User(SQLAlchemyBaseUserTableUUID, Base): pass
class UserRead(schemas.BaseUser[uuid.UUID]): pass
class UserCreate(schemas.BaseUserCreate): pass
class UserUpdate(schemas.BaseUserUpdate): pass
class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = "S"; verification_token_secret = "S"
async def get_user_manager(): yield None
def jwt(): return JWTStrategy(secret="S", lifetime_seconds=3600)
bearer = AuthenticationBackend(name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=jwt)
cookie = AuthenticationBackend(name="cookie", transport=CookieTransport(cookie_max_age=3600), get_strategy=jwt)
fu = FastAPIUsers[User, uuid.UUID](get_user_manager, [bearer, cookie])
app = FastAPI()
app.include_router(fu.get_auth_router(bearer), prefix="/auth/jwt", tags=["auth"])
app.include_router(fu.get_auth_router(cookie), prefix="/auth/cookie", tags=["auth"])
app.include_router(fu.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"])
app.include_router(fu.get_reset_password_router(), prefix="/auth", tags=["auth"])
app.include_router(fu.get_verify_router(UserRead), prefix="/auth", tags=["auth"])
app.include_router(fu.get_users_router(UserRead, UserUpdate), prefix="/users", tags=["users"])
print(json.dumps(app.openapi()))
