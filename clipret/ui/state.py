"""Page state kept in the URL: widgets start from the query parameters and write them back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from clipret.ui.share import base_from_page_url, share_link

State = TypeVar("State")


def state_from_url(cls: type[State], prefix: str, widget_values: Callable[[State], dict[str, Any]]) -> State:
    """The page state in the URL. When the URL holds a state this session has not shown yet (a link was
    opened), the widgets `prefix.<name>` are set from it before they are drawn."""
    state = cls.from_params(st.query_params.to_dict())
    synced = f"{prefix}._synced"
    fresh = st.session_state.get(synced) != state
    for name, value in widget_values(state).items():
        key = f"{prefix}.{name}"
        # A widget not drawn on the last run (another page, a hidden input) lost its value: the URL
        # still has it. Otherwise keep what the user just set, which the URL shows only after this run.
        if fresh or key not in st.session_state:
            st.session_state[key] = value
    st.session_state[synced] = state
    return state


def widget(prefix: str, name: str, default: Any = None) -> Any:
    return st.session_state.get(f"{prefix}.{name}", default)


def publish(state, prefix: str) -> None:
    """Write `state` into the URL (only what differs from the defaults), so the address bar is the link."""
    # Sent on every run, even when unchanged: after an in-app link (st.page_link with query_params)
    # to the page already shown, the script gets the new parameters but the address bar keeps the old.
    st.query_params.from_dict(state.to_params())
    st.session_state[f"{prefix}._synced"] = state


def share_box(page: str, state, public_url: str | None, note: str = "") -> str:
    """An expander with the link that reopens this view; returns the link."""
    link = share_link(public_url or _browser_base(), page, state.to_params())
    with st.expander("Share this view", icon=":material/link:"):
        st.code(link, language=None)
        st.caption(note or "Anyone who opens this link sees the same view of this index.")
    return link


def _browser_base() -> str:
    try:
        return base_from_page_url(st.context.url)
    except Exception:  # noqa: BLE001 - no browser context (tests, bare mode): a root-relative link
        return ""
