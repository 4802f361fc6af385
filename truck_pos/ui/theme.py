"""Colours and sizes for a 7" 800x480 touchscreen (also fine at 1280x800)."""

from kivy.metrics import dp

BG = (0.11, 0.12, 0.14, 1)
PANEL = (0.16, 0.17, 0.20, 1)
ACCENT = (0.98, 0.62, 0.16, 1)  # food-truck orange
OK = (0.22, 0.66, 0.36, 1)
WARN = (0.90, 0.30, 0.25, 1)
MUTED = (0.45, 0.47, 0.52, 1)
BUTTON = (0.26, 0.28, 0.33, 1)
CARD = (0.20, 0.45, 0.80, 1)
TEXT = (0.96, 0.96, 0.96, 1)

TOUCH = dp(56)  # comfortable finger target
MIN_TOUCH = dp(48)  # nothing tappable is smaller than this (tests/test_ui.py checks every screen)
FONT = dp(17)
FONT_SMALL = dp(14)  # the smallest text on screen (status bar, chart labels)
FONT_BIG = dp(24)
FONT_HUGE = dp(64)
STATUS_H = dp(26)
ICON = dp(18)  # status-bar icons
NAV_H = dp(50)
