module sdatasync

go 1.26.8

require (
	github.com/beevik/etree v1.8.1
	github.com/google/uuid v1.6.0
	github.com/gorilla/mux v1.8.1
	github.com/mattn/go-sqlite3 v1.14.53
	golang.org/x/crypto v0.59.0
	golang.org/x/term v0.48.0
	golang.org/x/tools v0.52.0
)

require golang.org/x/sys v0.50.0 // indirect
