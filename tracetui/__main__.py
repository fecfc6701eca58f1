"""`python -m tracetui` runs the same command line as the `tracetui` script."""

from tracetui.cli import main

if __name__ == "__main__":
    main()
