from taskstate.cli.main import main

main()
