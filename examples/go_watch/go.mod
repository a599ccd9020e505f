module example.com/genidd/go_watch

go 1.19
