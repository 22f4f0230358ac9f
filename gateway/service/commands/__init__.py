"""CLI command groups: argparse arguments in, a JSON-able dict out, by calling the domain.
`gateway.service.cli` wires them into one parser."""
