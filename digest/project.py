"""A newsletter project: a folder like a static-site generator's site.

digest.toml      settings
templates/       editable copies of the default templates (looked up first)
subscribers/     one CSV file per list
articles/        a default source folder
outbox/          the outbox transport's Maildir
.digest/         state: the SQLite store (unless `[store] url` names a PostgreSQL one) and
                 the signing secret
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from digest.config import CONFIG_NAME, DEFAULT_CONFIG, Config, load_config
from digest.errors import ConfigError, DigestError
from digest.store import Store, Timeouts

STATE_DIR = ".digest"
DB_NAME = "digest.sqlite3"


def data_path(name: str) -> Path:
    """A packaged data folder: inside the wheel (`digest/_data/`), or the repository's top level
    when running from a checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "_data" / name
    return installed if installed.exists() else here.parent / name


def make_state_dir(path: Path) -> None:
    """`.digest/`, owner-only (the store and the signing secret are inside), also when an older
    digest created it world-readable."""
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


@dataclass
class Project:
    root: Path
    config: Config
    _stores: list[Store] = field(default_factory=list, repr=False)
    _pool: Any = field(default=None, repr=False)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def outbox_dir(self) -> Path:
        return self.root / "outbox"

    @property
    def subscribers_dir(self) -> Path:
        return self.root / "subscribers"

    @property
    def template_dirs(self) -> list[Path]:
        """Project templates first, then the packaged defaults."""
        return [self.root / "templates", data_path("templates")]

    @cached_property
    def store(self) -> Store:
        """The store every command of this process shares."""
        if self.config.store_url:
            store = Store.connect(self.config.store_url, self.timeouts)
        else:
            try:
                make_state_dir(self.state_dir)
            except OSError as exc:
                raise DigestError(
                    f"{self.state_dir}: cannot create the state folder: {exc}"
                ) from None
            store = Store(self.state_dir / DB_NAME)
        self._stores.append(store)
        return store

    def open_store(self) -> Store:
        """A store of its own for one unit of work (a web request), to close after it: a new
        SQLite connection, or one from this process's PostgreSQL pool."""
        if not self.config.store_url:
            return Store(self.state_dir / DB_NAME)
        from digest.store.database import PostgresDatabase, open_pool

        if self._pool is None:
            self._pool = open_pool(self.config.store_url, timeouts=self.timeouts)
        return Store(
            PostgresDatabase(self.config.store_url, pool=self._pool, timeouts=self.timeouts)
        )

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(self.config.lock_timeout, self.config.statement_timeout)

    def check_shared_secret(self) -> None:
        """On a store that several hosts share, every send worker and web replica must sign and
        verify unsubscribe links with one secret: a secret generated into one host's `.digest/`
        would not be the others'."""
        if self.config.store_url and not self.config.secret:
            raise ConfigError(
                f"{self.config.path}: set DIGEST_SECRET on every host when the store is"
                " PostgreSQL (`store.url`): send workers and web replicas sign and check"
                " unsubscribe links with it"
            )

    def close(self) -> None:
        for store in self._stores:
            store.close()
        if self._pool is not None:
            self._pool.close()


def open_project(root: Path) -> Project:
    root = root.resolve()
    if not root.is_dir():
        raise DigestError(f"{root}: no such project folder")
    config = load_config(root / CONFIG_NAME)
    from digest.subscribers import allow_test_domains

    allow_test_domains(config.allow_test_domains)  # per project, so it never carries over
    from digest.sources.fetch import use_proxy

    use_proxy(config.proxy)
    return Project(root=root, config=config)


def init_project(root: Path, *, with_examples: bool = False) -> Project:
    """Create a project at `root`. Refuses to overwrite an existing digest.toml."""
    root = root.resolve()
    if (root / CONFIG_NAME).exists():
        raise DigestError(f"{root / CONFIG_NAME}: a project already exists here")
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / CONFIG_NAME).write_text(DEFAULT_CONFIG, encoding="utf-8")
        shutil.copytree(data_path("templates"), root / "templates", dirs_exist_ok=True)
        (root / "subscribers").mkdir(exist_ok=True)
        shutil.copy(data_path("subscribers") / "example.csv", root / "subscribers" / "example.csv")
        (root / "articles").mkdir(exist_ok=True)
        if with_examples:
            shutil.copytree(data_path("examples/articles"), root / "articles", dirs_exist_ok=True)
    except OSError as exc:
        raise DigestError(f"{root}: cannot create a project here: {exc.strerror or exc}") from None
    project = open_project(root)
    project.store  # noqa: B018 - creates .digest/ and the database now, not on first use
    return project
