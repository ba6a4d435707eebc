"""The shipped bundles, as package data: installed as `facelite_models`.

pyproject maps the package `facelite_models` onto this folder and ships every
`<name>/<name>.flb` with the wheel. Code never imports this package; it asks
`facelite.paths.shipped_bundles_dir()` or `facelite.paths.shipped_bundle(name)`.
"""
