"""``python -m campaign``: the Hydra application. Thin by design: the work is in :func:`campaign.app.main`."""

import os

import hydra

from campaign.app import CONF_DIR, run_from_hydra
from campaign.config import register_configs

register_configs()
# Nothing the CLI creates is world-writable, whatever the umask: this covers Hydra's sweep directories too
# (campaign.store creates its own files and directories without write permission for others in any case).
os.umask(os.umask(0o022) | 0o002)


@hydra.main(version_base="1.3", config_path=os.fspath(CONF_DIR), config_name="config")
def main(cfg) -> None:
    run_from_hydra(cfg)


if __name__ == "__main__":
    main()
