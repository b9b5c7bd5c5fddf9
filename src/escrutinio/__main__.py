from escrutinio.cli import main

main()
