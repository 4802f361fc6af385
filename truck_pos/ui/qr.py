"""Render a QR code (qrcode library) into a Kivy texture."""

from __future__ import annotations

import io

import qrcode
from kivy.core.image import Image as CoreImage


def qr_texture(text: str, box_size: int = 8):
    """A texture of ``text`` as a QR code, black on white with a quiet zone."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    buf.seek(0)
    texture = CoreImage(buf, ext="png").texture
    texture.mag_filter = "nearest"  # keep modules crisp when scaled
    return texture
