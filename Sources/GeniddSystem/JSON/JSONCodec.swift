import CJSONC

/// Converts between ``JSONValue`` and JSON text with json-c, the only place
/// genidd touches json-c. Objects are released with `json_object_put` on every
/// path, and strings are copied out before that.
public enum JSONCodec {
    /// Compact JSON text (no spaces, `/` not escaped).
    public static func encode(_ value: JSONValue) -> String {
        guard let object = makeObject(value) else { return "null" }
        defer { json_object_put(object) }
        let flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE
        guard let text = json_object_to_json_string_ext(object, Int32(flags)) else { return "null" }
        return String(cString: text)
    }

    /// Parses JSON text. Throws ``JSONParseError`` with json-c's reason on bad input.
    /// json-c saturates integers that overflow 64 bits; see ``JSONValue/exactUInt64Value``.
    public static func decode(_ bytes: [UInt8]) throws -> JSONValue {
        guard let tokener = json_tokener_new() else { throw JSONParseError(reason: "out of memory") }
        defer { json_tokener_free(tokener) }
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                json_tokener_parse_ex(tokener, chars.baseAddress, Int32(chars.count))
            }
        }
        let status = json_tokener_get_error(tokener)
        if status != json_tokener_success {
            if let parsed { json_object_put(parsed) }
            let reason =
                status == json_tokener_continue
                ? "unexpected end of input" : String(cString: json_tokener_error_desc(status))
            throw JSONParseError(reason: reason)
        }
        if json_tokener_get_parse_end(tokener) < bytes.count {
            let rest = bytes[json_tokener_get_parse_end(tokener)...]
            if rest.contains(where: { !isJSONSpace($0) }) {
                if let parsed { json_object_put(parsed) }
                throw JSONParseError(reason: "trailing characters after the JSON value")
            }
        }
        defer { if let parsed { json_object_put(parsed) } }
        return makeValue(parsed)
    }

    private static func isJSONSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d
    }

    private static func makeObject(_ value: JSONValue) -> OpaquePointer? {
        switch value {
        case .null:
            return nil
        case .bool(let flag):
            return json_object_new_boolean(flag ? 1 : 0)
        case .int(let number):
            return json_object_new_int64(number)
        case .uint(let number):
            return json_object_new_uint64(number)
        case .double(let number):
            return json_object_new_double(number)
        case .string(let text):
            var utf8 = Array(text.utf8)
            return utf8.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    json_object_new_string_len(chars.baseAddress, Int32(chars.count))
                }
            }
        case .array(let elements):
            let array = json_object_new_array()
            for element in elements {
                json_object_array_add(array, makeObject(element))
            }
            return array
        case .object(let members):
            let object = json_object_new_object()
            for (key, member) in members {
                json_object_object_add(object, key, makeObject(member))
            }
            return object
        }
    }

    private static func makeValue(_ object: OpaquePointer?) -> JSONValue {
        guard let object else { return .null }
        switch json_object_get_type(object) {
        case json_type_null:
            return .null
        case json_type_boolean:
            return .bool(json_object_get_boolean(object) != 0)
        case json_type_int:
            let signed = json_object_get_int64(object)
            if signed == Int64.max {
                return .uint(json_object_get_uint64(object))
            }
            return .int(signed)
        case json_type_double:
            return .double(json_object_get_double(object))
        case json_type_string:
            let length = Int(json_object_get_string_len(object))
            guard let pointer = json_object_get_string(object) else { return .string("") }
            let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
            return .string(String(decoding: bytes, as: UTF8.self))
        case json_type_array:
            let count = json_object_array_length(object)
            var elements: [JSONValue] = []
            elements.reserveCapacity(count)
            for index in 0..<count {
                elements.append(makeValue(json_object_array_get_idx(object, index)))
            }
            return .array(elements)
        case json_type_object:
            var members: [(String, JSONValue)] = []
            var iterator = json_object_iter_begin(object)
            var end = json_object_iter_end(object)
            while json_object_iter_equal(&iterator, &end) == 0 {
                let name = String(cString: json_object_iter_peek_name(&iterator))
                members.append((name, makeValue(json_object_iter_peek_value(&iterator))))
                json_object_iter_next(&iterator)
            }
            return .object(members)
        default:
            return .null
        }
    }
}

/// JSON text that json-c could not parse.
struct JSONParseError: Error, CustomStringConvertible, Sendable {
    let reason: String
    var description: String { "invalid JSON: \(reason)" }
}
