/* version.h - the release of cairn and of its wire protocol. */
#ifndef CAIRN_VERSION_H
#define CAIRN_VERSION_H

#define CAIRN_VERSION		"0.1.0"
#define CAIRN_PROTOCOL		"cairn/v1"

#endif
