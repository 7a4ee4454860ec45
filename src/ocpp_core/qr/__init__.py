"""QR codes for the public "scan, pay, charge" flow, and printable label sheets.

For the management app and the CLI alike::

    from ocpp_core.qr import labels_for, label_sheet_pdf, qr_png, qr_svg, start_url

    url = start_url(settings.public_base_url, "CP-1", 2)
    svg = qr_svg(url)  # bytes, image/svg+xml
    png = qr_png(url, 10)  # bytes, image/png
    labels = await labels_for(session, settings.public_base_url, None, settings.stripe.currency)
    pdf = label_sheet_pdf(labels)  # bytes, application/pdf
"""

from ocpp_core.qr.codes import QUIET_ZONE, qr_code, qr_matrix, qr_png, qr_svg
from ocpp_core.qr.links import short_url, start_url
from ocpp_core.qr.sheet import Label, label_sheet_pdf, page_count, printable
from ocpp_core.qr.source import LabelError, connector_ids, labels_for, price_text

__all__ = [
    "QUIET_ZONE",
    "Label",
    "LabelError",
    "connector_ids",
    "label_sheet_pdf",
    "labels_for",
    "page_count",
    "price_text",
    "printable",
    "qr_code",
    "qr_matrix",
    "qr_png",
    "qr_svg",
    "short_url",
    "start_url",
]
