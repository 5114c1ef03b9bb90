"""`alphago-lite config [FILE]`: every key with its default and documentation, or a file resolved."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("config", help="show config keys, or resolve a config file")
    p.add_argument("file", nargs="?", help="a YAML config to resolve and print")
    p.add_argument("overrides", nargs="*", help="dotted overrides")
    p.set_defaults(func=run)


def run(args) -> int:
    import yaml

    from alphago_lite.config import config_to_dict, describe_config, load_config
    if args.file:
        print(yaml.safe_dump(config_to_dict(load_config(args.file, args.overrides)), sort_keys=False))
    else:
        print(describe_config())
    return 0
