"""berth's built-in Textual themes, registered by name.

Styles in tui/*.tcss refer only to theme variables ($primary, $surface, $error, …), so every
theme here works on every screen. ``THEMES`` maps a name to its ``Theme``; ``register_all``
adds them to an app. ``DEFAULT`` is the theme used when neither ``--theme`` nor the config
file names one.
"""

from __future__ import annotations

from textual.theme import Theme

__all__ = ["DEFAULT", "THEMES", "register_all"]

DEFAULT = "berth-dark"

# Extra variables every berth theme defines, used by the tables and the logs console.
_DARK_VARS = {
    "block-cursor-background": "#2b4a6b",
    "block-cursor-foreground": "#ffffff",
    "block-cursor-text-style": "bold",
    "footer-key-foreground": "#7fd4ff",
    "input-selection-background": "#2b4a6b 60%",
}

THEMES: dict[str, Theme] = {
    t.name: t
    for t in (
        Theme(
            name="berth-dark",
            primary="#4aa8ff",
            secondary="#8c7bff",
            accent="#ffb454",
            warning="#ffb454",
            error="#ff5f6d",
            success="#5fd787",
            foreground="#d7dde8",
            background="#0f141b",
            surface="#151c25",
            panel="#1c2633",
            dark=True,
            variables=_DARK_VARS,
        ),
        Theme(
            name="berth-light",
            primary="#0a5bc4",
            secondary="#6b4fd8",
            accent="#b35c00",
            warning="#9a5b00",
            error="#c0182a",
            success="#13803e",
            foreground="#1e2630",
            background="#f7f8fa",
            surface="#eceff3",
            panel="#dde3ea",
            dark=False,
            variables={
                "block-cursor-background": "#0a5bc4",
                "block-cursor-foreground": "#ffffff",
                "block-cursor-text-style": "bold",
                "footer-key-foreground": "#0a5bc4",
                "input-selection-background": "#0a5bc4 30%",
            },
        ),
        Theme(
            name="berth-contrast",
            primary="#00e5ff",
            secondary="#ff4dff",
            accent="#ffff00",
            warning="#ffff00",
            error="#ff3030",
            success="#00ff5f",
            foreground="#ffffff",
            background="#000000",
            surface="#000000",
            panel="#1a1a1a",
            dark=True,
            luminosity_spread=0.3,
            text_alpha=1.0,
            variables={
                "block-cursor-background": "#ffff00",
                "block-cursor-foreground": "#000000",
                "block-cursor-text-style": "bold",
                "footer-key-foreground": "#ffff00",
                "input-selection-background": "#00e5ff 50%",
            },
        ),
    )
}


def register_all(app) -> None:
    """Register every built-in theme on ``app`` (a textual App)."""
    for theme in THEMES.values():
        app.register_theme(theme)
