// genidd: serves the VM generation counter over HTTP. See README.md.
GeniddCommand.main()
