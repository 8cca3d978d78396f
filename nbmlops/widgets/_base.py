"""What every store-backed widget shares: a header (title, a message line, a refresh button), opening the store
lazily, and turning what a user can run into (an empty store, an unreachable database, an unknown name) into a
message inside the widget instead of a traceback in the output area.

A subclass builds its controls in `__init__`, reads the store in `_load()` (called by `refresh()`, which the
button presses), and puts its static rendering (the text shown where widgets don't render: a saved notebook,
`jupyter nbconvert --execute`) in `_static_html()`.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as widgets

from nbmlops.errors import NbmlopsError
from nbmlops.widgets._render import esc

if TYPE_CHECKING:
    from nbmlops.store import Store

log = logging.getLogger("nbmlops.widgets")
T = TypeVar("T")

STYLE = """<style>
.nbmlops-w-title{font-size:15px;font-weight:600;margin:2px 0}
.nbmlops-w-muted{color:var(--jp-ui-font-color2,#777);font-size:12px}
.nbmlops-w-message{padding:6px 10px;border-radius:6px;margin:2px 0;display:inline-block}
.nbmlops-w-message.error{background:rgba(211,47,47,.10);color:#b71c1c}
.nbmlops-w-message.empty{background:rgba(33,150,243,.10);color:#0d47a1}
.nbmlops-w-scroll{max-height:420px;overflow:auto;border:1px solid var(--jp-border-color2,#ddd)}
table.nbmlops-w-table{border-collapse:collapse;font-size:12px;width:100%}
table.nbmlops-w-table th{position:sticky;top:0;background:var(--jp-layout-color2,#f4f4f4);text-align:left}
table.nbmlops-w-table td,table.nbmlops-w-table th{padding:3px 8px;border-bottom:1px solid
 var(--jp-border-color2,#e0e0e0);white-space:nowrap}
table.nbmlops-w-table tr.selected td{background:rgba(33,150,243,.16)}
table.nbmlops-w-table td.differs{background:rgba(255,152,0,.22);font-weight:600}
table.nbmlops-w-table .failed{color:#c62828;font-weight:600}
table.nbmlops-w-table .succeeded{color:#2e7d32}
table.nbmlops-w-table .running{color:#1565c0;font-weight:600}
table.nbmlops-w-table td.best{color:#ad1457;font-weight:700}
</style>"""


def _database_errors() -> tuple[type[BaseException], ...]:
    """Errors a database the user named can raise: the driver's and SQLAlchemy's (only if it is loaded)."""
    found: list[type[BaseException]] = [sqlite3.Error]
    if "sqlalchemy" in sys.modules:
        import sqlalchemy.exc

        found.append(sqlalchemy.exc.SQLAlchemyError)
    return tuple(found)


def user_error(exc: BaseException) -> str | None:
    """The message to show for an error a user can cause (None: a bug, which propagates)."""
    if isinstance(exc, NbmlopsError | OSError):
        return str(exc)
    if isinstance(exc, _database_errors()):
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"the database could not be read: {text[0] if text else type(exc).__name__}"
    return None


def message_html(text: str, kind: str = "error") -> str:
    return f'{STYLE}<div class="nbmlops-w-message {kind}">{esc(text)}</div>'


def open_store(store: Store | None, home: str | Path | None) -> Store:
    if store is not None:
        return store
    from nbmlops.tracking import get_store

    return get_store(home)


class StoreWidget(widgets.VBox):
    """A VBox with a header (title, message, refresh) over a body the subclass fills; see the module doc."""

    css_name = "store-widget"

    def __init__(
        self, title: str, body: list[widgets.Widget], *, store: Store | None = None, home: str | Path | None = None
    ) -> None:
        self._given_store, self._home = store, home
        self._store: Store | None = store
        self.title_html = widgets.HTML(f'{STYLE}<div class="nbmlops-w-title">{esc(title)}</div>')
        self.message_html = widgets.HTML()
        self.refresh_button = widgets.Button(
            description="refresh", icon="refresh", tooltip="read the store again", layout=widgets.Layout(width="100px")
        )
        self.refresh_button.add_class("nbmlops-w-refresh")
        self.message_html.add_class("nbmlops-w-messageline")
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.body = widgets.VBox(body)
        self.message: str | None = None  # what the message line says (tests read it), None when all is well
        super().__init__(children=[widgets.HBox([self.title_html, self.refresh_button]), self.message_html, self.body])
        self.add_class("nbmlops-widget")
        self.add_class(f"nbmlops-{self.css_name}")

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self._given_store, self._home)
        return self._store

    def refresh(self) -> None:
        """Read the store again and redraw; a problem shows as the message line (and hides the body)."""
        self.show_message(None)
        self.guard(self._load)

    def guard(self, action: Callable[[], T], *, hide: bool = True) -> T | None:
        """Run `action`; an error a user can cause becomes the widget's message (logged with its traceback),
        hiding the body when `hide` (nothing to show) or keeping it (a bad filter: the user fixes it there)."""
        try:
            return action()
        except Exception as exc:
            text = user_error(exc)
            if text is None:
                raise
            log.debug("nbmlops widget: %s", text, exc_info=True)
            if self._given_store is None and not isinstance(exc, NbmlopsError):
                self._store = None  # an unreachable database: the next refresh opens it afresh
            self.show_message(text, "error", hide=hide)
            return None

    def show_message(self, text: str | None, kind: str = "error", *, hide: bool = False) -> None:
        """Say `text` on the message line (None clears it); `hide` hides the body until the next refresh."""
        self.message = text
        self.message_html.value = "" if text is None else message_html(text, kind)
        self.body.layout.display = "none" if hide and text is not None else None

    def _load(self) -> None:  # pragma: no cover - every widget defines it
        raise NotImplementedError

    def _static_html(self) -> str:
        return ""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:  # where widgets don't render (a saved notebook, nbconvert): the state as HTML
            static = (
                self.message_html.value
                if self.message and self.body.layout.display == "none"
                else self.message_html.value + self._static_html()
            )
            bundle["text/html"] = self.title_html.value + static
            bundle["text/plain"] = f"{type(self).__name__}: {self.message}" if self.message else repr(self)
        return bundle


class Deferred(StoreWidget):
    """A widget built by `build()` inside the header: where building fails (an unknown model, no stored results),
    the message shows instead, and refresh builds again (what `%nbmlops drift NAME` shows)."""

    css_name = "deferred"

    def __init__(self, title: str, build: Callable[[], widgets.Widget]) -> None:
        self._build = build
        self.widget: widgets.Widget | None = None
        super().__init__(title, [])
        self.refresh()

    def _load(self) -> None:
        self.widget = self._build()
        self.body.children = [self.widget]

    def _static_html(self) -> str:
        bundle = self.widget._repr_mimebundle_() if self.widget is not None else None
        return "".join(bundle.get("text/html", "")) if bundle else ""

    def __repr__(self) -> str:
        return f"Deferred({self.widget!r})"
