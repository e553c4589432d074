package immudb
