"""The owner's side: the nightly reconcile and report (runs as ``truck-pos-owner``)."""
