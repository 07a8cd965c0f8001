"""The bottom layer: what every other layer shares and nothing below it depends on.

Object identity (`objects`), the table of what we know about each Kubernetes kind (`kinds`),
ownership labels (`labels`), the error types (`errors`), structured logging (`logs`) and the small
`Trigger` protocol (`triggers`). No I/O, no Kubernetes client, no Git.
"""
