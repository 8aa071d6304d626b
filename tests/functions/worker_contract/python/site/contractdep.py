"""A package on the build's site_packages path."""


def describe(runtime):
    return {"package": "contractdep", "runtime": runtime}
