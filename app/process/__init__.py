"""Process plumbing shared by the console and the command line (see shared DESIGN.md): the
data folder, logging, crash reports, opening a site at start-up."""
