"""The people's language and time zone: gettext catalogs (Babel) and local times.

Machine-facing output (API JSON, audit rows, logs) stays language-neutral and in UTC; text
for people goes through `_()` and times through `local_time()`.
"""
