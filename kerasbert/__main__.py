from kerasbert.cli import main

raise SystemExit(main())
