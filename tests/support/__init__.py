"""What tests share: builders (`*_kit`) and fixtures (`*_fixtures`, loaded as plugins by
tests/conftest.py), imported as `support.<module>` (tests/ is on the path through its conftest)."""
