"""Settings from the environment and `.env` files, Starlette-compatible; stdlib only.

`Config` reads typed settings (`config("DEBUG", cast=bool, default=False)`),
`environ` guards the process environment against changes after a read, and
`Secret` / `CommaSeparatedStrings` are the value types settings are cast to.
It is not a settings-validation framework: no schemas, no nested models.
"""

__version__ = "0.2.0"

from ._config import Config, ConfigKeyError
from ._dotenv import DotenvWarning
from ._environ import Environ, EnvironError, environ
from ._values import CommaSeparatedStrings, Secret

__all__ = [
    "CommaSeparatedStrings",
    "Config",
    "ConfigKeyError",
    "DotenvWarning",
    "Environ",
    "EnvironError",
    "Secret",
    "environ",
]
