from callbox.toolkit.cli import main

main()
