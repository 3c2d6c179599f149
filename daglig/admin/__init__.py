"""Admin controls and analytics: ``daglig admin …`` (cli), the HTTP admin API (api), and
the operations both share (service)."""
