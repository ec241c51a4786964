import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class RunLengthEncodingEnv(gymnasium.Env):
    """Run-length encode a string: write each maximal run of one repeated character as that
    character followed by the run length in decimal, always including the count, even 1 (e.g.
    "aaabcc" -> "a3b1c2", twelve w's -> "w12"). Observe shows the string; measure runs with RunAt,
    build the code with AppendRun and GetEncoding and submit it as a string with Done ("" for an
    empty string)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.RUN_AT = 1
        self.APPEND_RUN = 2
        self.GET_ENCODING = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "RunAt": self.RUN_AT,
            "AppendRun": self.APPEND_RUN,
            "GetEncoding": self.GET_ENCODING,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "RunLengthEncodingEnv@"
        if not env_str.startswith(prefix):
            return None
        return RunLengthEncodingEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.s = str(options.get("s", ""))
        # the encoding built so far by AppendRun
        self.encoding = ""
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        import itertools

        return "".join(f"{char}{len(list(group))}" for char, group in itertools.groupby(self.s))

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.RUN_AT:
                if "start" in params:
                    msg = self.RunAt(params["start"])
                else:
                    msg = "Error: 'start' parameter is missing for RunAt action."
            elif action_code == self.APPEND_RUN:
                if "char" in params and "count" in params:
                    msg = self.AppendRun(params["char"], params["count"])
                else:
                    msg = "Error: 'char' or 'count' parameter is missing for AppendRun action."
            elif action_code == self.GET_ENCODING:
                msg = self.GetEncoding()
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    # --- tools ---
    def Observe(self):
        r"""
        Return the string to run-length encode. Each maximal run of one repeated character is
        written as the character followed by the run length in decimal, e.g. "aaabcc" -> "a3b1c2".

        Returns:
            str: JSON string.

        Example Output:
            "\"aaabcc\""
        """
        return json.dumps(self.s)

    def RunAt(self, start):
        r"""
        Measure the run of equal characters that begins at index start: the character
        s[start] and how many consecutive positions from start hold it.

        Args:
            start (int): index into the string, 0..len(s)-1.

        Returns:
            str: JSON object with keys "char", "length" and "next" (the index just after the run).

        Example Output:
            "{\"char\": \"a\", \"length\": 3, \"next\": 3}"
        """
        start = _require_int(start, "start")
        n = len(self.s)
        if n == 0:
            raise ValueError("the string is empty")
        if start < 0 or start >= n:
            raise ValueError(f"index {start} out of range 0..{n - 1}")
        end = start
        while end < n and self.s[end] == self.s[start]:
            end += 1
        return json.dumps({"char": self.s[start], "length": end - start, "next": end})

    def AppendRun(self, char, count):
        r"""
        Append one run to the encoding being built: the character followed by its count.

        Args:
            char (str): a single character.
            count (int): the run length, at least 1.

        Returns:
            str: the encoding built so far.

        Example Output:
            "a3b1"
        """
        if not isinstance(char, str) or len(char) != 1:
            raise ValueError("parameter 'char' must be a single character")
        count = _require_int(count, "count")
        if count < 1:
            raise ValueError("parameter 'count' must be at least 1")
        self.encoding += f"{char}{count}"
        return self.encoding

    def GetEncoding(self):
        r"""
        Return the encoding built so far by AppendRun (as a JSON string, so that an empty
        encoding is visible).

        Returns:
            str: JSON string of the encoding.

        Example Output:
            "\"a3b1c2\""
        """
        return json.dumps(self.encoding)

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (str): the run-length encoding of the string ("" for an empty string).

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 'a3b1c2', reference answer: 'a3b1c2', result: correct, reward=1"
        """
        if not isinstance(answer, str):
            raise ValueError("parameter 'answer' must be a string")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer!r}, reference answer: {ref_answer!r}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        s = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        pos = 0
        while pos < len(s):
            run = json.loads(self.step(json.dumps({"name": "RunAt", "parameters": {"start": pos}}))[1])
            self.step(
                json.dumps({"name": "AppendRun", "parameters": {"char": run["char"], "count": run["length"]}})
            )
            pos = run["next"]
        encoding = json.loads(self.step(json.dumps({"name": "GetEncoding", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": encoding}}))[1]


if __name__ == "__main__":
    env = RunLengthEncodingEnv.from_env_str('RunLengthEncodingEnv@{"s": "aaabcc"}')
    print(env.solve())
    print("step count:", env.step_count)
    env = RunLengthEncodingEnv.from_env_str('RunLengthEncodingEnv@{"s": "wwwwwwwwwwwwxyyz"}')
    print(env.solve())
    print("step count:", env.step_count)
