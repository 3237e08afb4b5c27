module notifier

go 1.26
